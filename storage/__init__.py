"""Where OneTrip's data lives: the database binding, models, migrations and blobs."""
