"""The only code that imports boto3 or pynamodb; AWS errors are translated here, once."""
