"""The billing domain: standard library only, no AWS, no clock reads."""
