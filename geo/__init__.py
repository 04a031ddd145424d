"""towntype spatial side: files, coordinates, geometry, joins and maps."""
