"""Deployment: the merge template, the packaging step and the rules the template must keep."""
