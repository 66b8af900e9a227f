"""AWS CDK constructs that train and deploy SageMaker models with Step Functions."""
