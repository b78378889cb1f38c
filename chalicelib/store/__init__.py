"""DynamoDB through PynamoDB: models, key builders, repositories and transactions.

PynamoDB models never leave this package; the rest of the code sees domain dataclasses.
"""
