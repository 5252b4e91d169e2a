"""The marketplace: cleaners, clients, properties, jobs, bids and reviews."""
