"""Errors of the domain and the node runtime."""


class DomainError(Exception):
    """Base of every error raised by `node/`."""

    code = "domain_error"


class ConfigError(DomainError):
    """The configuration is wrong; `problems` lists every mistake at once."""

    code = "bad_config"

    def __init__(self, problems: list[str]):
        super().__init__("配置有误：" + "；".join(problems))
        self.problems = problems
