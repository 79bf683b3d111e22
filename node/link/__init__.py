"""The link between a child and its parent: the child's rounds over HTTP (`upstream`) and by USB stick
(`usb`), when it syncs (`schedule`) and what its link says (`status`); the parent's answers
(`downstream`); material scans that travel within scope (`scans`); what nodes report of their health
(`health`); installations proven cloned (`forks`); and a replaced PC's data keys (`restore`)."""
