"""The command line's rooms for county IT: the fleet's and the seals' commands (`onetrip` in app.py
builds its parser from them) and the provisioned demo tree of `make demo`."""
