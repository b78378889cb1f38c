"""Use cases: load -> domain -> one transaction. One module per family of use cases."""
