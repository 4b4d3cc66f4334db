"""closebatch: close the general ledger at period end from Excel workbooks."""

__version__ = "0.1.0"
