"""Local emulation of the AWS services the pipeline uses, for running it without an AWS account."""
