"""``mlpipeline``: operate a deployed MLPipeline (see ``mlpipeline --help`` and the README).

The public names are the console script's :func:`mlpipeline_cli.cli.main` and
:func:`mlpipeline_cli.cli.build_parser`; the other modules are the tool's own. Modules are not
imported here, so that importing one part does not pull in the others' dependencies.
"""
