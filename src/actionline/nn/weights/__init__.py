"""Reading weight files and adapting them to a network (inflation)."""
