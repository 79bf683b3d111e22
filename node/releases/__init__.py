"""Releases down the tree: the city's TUF repository (`repository`), the nodes that fetch, verify and mirror
it (`fetcher`, `client`), and the switch to a verified release with a way back (`staging`)."""
