"""The `grader` commands, one module per group of commands; `grader.cli` lists them.

Commands are thin: parse options, call the library, print. None registers itself
anywhere: the group in `grader.cli` names each command and the module it lives in.
"""
