"""
A warm interpreter for the tests' Python clients (test/helpers/warm-clients.ts): runs the aws CLI's own entry point
(v1 or v2, whichever this interpreter has) or a `python -c` snippet once per request, in this one process, so a test
pays Python's start-up and botocore's imports once instead of at every call (1.2-1.8 s of CPU each on the CI machine).

Protocol: one JSON request a line on fd 3 ({"kind": "cli", "argv": [...]} or {"kind": "exec", "code": "..."}, with
"env" and "cwd"); one JSON answer a line on fd 4 ({"status", "stdout", "stderr"}). Every request gets the process
environment and working directory it names, fresh sys.stdout/sys.stderr, a fresh botocore session (the CLI makes one
per run; boto3's default session is reset) and the logging handlers it started with.
"""
import io
import json
import logging
import os
import sys
import traceback

requests = os.fdopen(3, "rb")
answers = os.fdopen(4, "wb")
LOGGERS = ("", "botocore", "awscli", "boto3", "s3transfer", "urllib3")
handlers = {name: list(logging.getLogger(name).handlers) for name in LOGGERS}
levels = {name: logging.getLogger(name).level for name in LOGGERS}


class Captured(io.BytesIO):
    """Output that stays readable after the code closed its stream."""

    def close(self):
        pass


def run_cli(argv):
    if os.environ.get("LC_CTYPE", "") == "UTF-8":  # as the aws script does
        os.environ["LC_CTYPE"] = "en_US.UTF-8"
    import awscli
    import awscli.clidriver as clidriver

    # What importing awscli does to a new process's environment: its data directory joins AWS_DATA_PATH.
    data = os.path.join(os.path.dirname(os.path.abspath(awscli.__file__)), "data")
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    os.environ["AWS_DATA_PATH"] = os.pathsep.join([*paths, data] if data not in paths else paths)
    sys.argv = ["aws", *argv]
    if hasattr(clidriver, "AWSCLIEntryPoint"):  # v2
        return clidriver.AWSCLIEntryPoint().main(argv)
    driver = clidriver.create_clidriver()  # v1
    rc = driver.main(argv)
    clidriver.HISTORY_RECORDER.record("CLI_RC", rc, "CLI")
    return rc


def run_code(code):
    if "boto3" in sys.modules:
        sys.modules["boto3"].DEFAULT_SESSION = None
    sys.argv = ["-c"]
    exec(compile(code, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    return 0


def exit_status(e):
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


while True:
    line = requests.readline()
    if not line:
        break
    req = json.loads(line)
    out_bytes, err_bytes = Captured(), Captured()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8")
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="replace")
    saved = (sys.stdout, sys.stderr, sys.argv)
    os.environ.clear()
    os.environ.update(req["env"])
    sys.stdout, sys.stderr = out, err
    try:
        os.chdir(req["cwd"])
        status = run_cli(req["argv"]) if req["kind"] == "cli" else run_code(req["code"])
    except SystemExit as e:
        status = exit_status(e)
    except BaseException:  # what an uncaught exception does to `python -c`: the traceback, status 1
        traceback.print_exc()
        status = 1
    finally:
        for stream in (out, err):
            try:
                stream.flush()
            except Exception:
                pass
        sys.stdout, sys.stderr, sys.argv = saved
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers[name]
            logger.setLevel(levels[name])
    answer = {
        "status": status if isinstance(status, int) else 0,
        "stdout": out_bytes.getvalue().decode("utf-8", "replace"),
        "stderr": err_bytes.getvalue().decode("utf-8", "replace"),
    }
    answers.write(json.dumps(answer).encode("utf-8") + b"\n")
    answers.flush()
