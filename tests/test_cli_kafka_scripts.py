"""What kafka_producer.py and export_users_to_kafka.py promise without a broker."""

import socket
import time

import export_users_to_kafka
import kafka_producer
from running import start_script
from telco_cdr.constants import DEFAULT_WEIGHTS


def test_producer_help_shows_the_weights_in_force(capsys):
    assert kafka_producer.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ",".join(f"{k}={v:g}" for k, v in DEFAULT_WEIGHTS.items()) in text


def test_help_has_examples_and_every_flag(capsys):
    for module in (kafka_producer, export_users_to_kafka):
        assert module.main(["--help"]) == 0
        out = capsys.readouterr().out
        assert "examples:" in out
        for action in module.build_parser()._actions:
            for flag in action.option_strings:
                assert flag in out, (module.PROG, flag)


def test_sigterm_before_connecting_is_a_clean_stop():
    # The server accepts and never answers, and the connect timeout is long: the signal must end
    # the wait.  (A refused port would not do: the run says so after a few seconds by itself.)
    server = socket.create_server(("127.0.0.1", 0))
    try:
        proc = start_script("kafka_producer.py", "-b", f"127.0.0.1:{server.getsockname()[1]}", "--timeout", "60")
        time.sleep(1.5)
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    finally:
        server.close()
    assert proc.returncode == 0, err
    assert "before sending anything" in err and "Traceback" not in err


def test_help_examples_keep_the_password_off_the_command_line(capsys):
    """A password on the command line is in the shell history and the process list: the examples
    set KAFKA_SASL_PASSWORD instead, and never give --sasl-password a value."""
    for module in (kafka_producer, export_users_to_kafka):
        assert module.main(["--help"]) == 0
        examples = capsys.readouterr().out.split("examples:", 1)[1]
        assert "--sasl-password" not in examples, module.PROG
        assert "export KAFKA_SASL_PASSWORD=" in examples, module.PROG
