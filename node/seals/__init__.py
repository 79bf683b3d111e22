"""Seals (电子印章): their records, their life across the fleet (ordered by a county, keyed by the holder,
certified, revoked), the events as rows and the county's countersignature, sealing a paper (PAdES),
and verifying a sealed paper or the text of its QR code."""
