"""Run-time tooling for a deployed pipeline; needs the ``tools`` extra (boto3, numpy).

Modules are not imported here, so that ``python -m mlpipeline_cli.<module>`` runs each of
them cleanly and importing one tool does not pull in the others' dependencies.
"""
