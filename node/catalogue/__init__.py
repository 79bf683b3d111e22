"""The service catalogue (事项清单): the model, its JSON and CSV forms, and the catalogue and holiday table as
the ancestors published them (`published`, every version kept), with the seed data shipped in `data/`."""
