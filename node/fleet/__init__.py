"""The fleet: what a hub's admin does to it (register, grant, revoke, release, replace, rotate the CA),
what an installation does to join it and stay in it, and the fleet page's rows. Pages and the command
line share these functions."""
