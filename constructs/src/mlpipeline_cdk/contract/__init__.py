"""The contracts a pipeline shares with what runs beside it, in plain Python (no CDK import).

- :mod:`.run_input`: the keys an execution's input may have, their types, limits and the
  messages a run fails with (the state machine, the operator tool and the CD smoke test check
  input against the same rules);
- :mod:`.script`: what the training and serving script must do (the metric lines SageMaker
  captures, where the model and the serving code go, the handlers);
- :mod:`.outputs`: the names of the stack outputs a deployed pipeline exposes, which the
  operator tool reads.

Importing these modules never loads aws-cdk-lib, so run-time tools can use them.
"""
