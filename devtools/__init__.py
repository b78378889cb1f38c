"""What only development uses: the local stack, its demo data, the moto patch, table/pool
bootstrap, and the `followups` CLI. Installed with the project (`pip install -e .`), never
zipped into the Lambda package (`chalice package` takes app.py, chalicelib/ and requirements.txt)."""
