"""Privacy rules that are not one feature's business: what may be published (`disclosure`)."""
