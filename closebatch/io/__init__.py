"""Reading and writing workbooks: the only part of closebatch that touches files."""
