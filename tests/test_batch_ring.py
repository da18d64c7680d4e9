"""The worker ring's tokens (telco_cdr.batch): what goes through the pipes between processes, and
the error each kind of failure becomes in the parent.  The ring itself is run by test_output.py and
test_fault_files.py (--workers 2 and 3: bytes, signals, failed writes, a killed worker)."""

import multiprocessing
import pickle

import pytest

from telco_cdr.batch import ErrorKind, ErrorToken, Token, _raise, _receive
from telco_cdr.errors import RunError


def test_token_after_adds_a_chunks_counts_per_type():
    token = Token((1, 2, 3, 4, 5))
    assert token.after([10, 0, 1, 0, 2]) == Token((11, 2, 4, 4, 7))
    assert token == Token((1, 2, 3, 4, 5))  # frozen: the old token is unchanged


@pytest.mark.parametrize("error, kind, in_message", [
    (BrokenPipeError(), ErrorKind.PIPE, ""),
    (RunError("cannot write output x: No space left on device"), ErrorKind.RUN, "No space left on device"),
    (ValueError("boom"), ErrorKind.BUG, "ValueError: boom"),
])
def test_an_exception_becomes_an_error_token_of_its_kind(error, kind, in_message):
    try:
        raise error
    except Exception as e:
        token = ErrorToken.of(e)
    assert token.kind is kind
    assert in_message in token.message
    if kind is ErrorKind.BUG:
        assert "Traceback" in token.message  # the whole traceback reaches the parent


@pytest.mark.parametrize("token", [Token((0, 8192, 0, 0, 0)), ErrorToken(ErrorKind.RUN, "disk full"),
                                   ErrorToken(ErrorKind.DIED)])
def test_tokens_survive_the_pipe(token):
    assert pickle.loads(pickle.dumps(token)) == token
    reader, writer = multiprocessing.Pipe(duplex=False)
    writer.send(token)
    assert reader.recv() == token


def test_a_pipe_whose_writer_is_gone_reads_as_a_died_token():
    reader, writer = multiprocessing.Pipe(duplex=False)
    writer.close()
    assert _receive(reader) == ErrorToken(ErrorKind.DIED)


@pytest.mark.parametrize("token, raises, match", [
    (ErrorToken(ErrorKind.PIPE), BrokenPipeError, None),
    (ErrorToken(ErrorKind.RUN, "cannot write output x"), RunError, "^cannot write output x$"),
    (ErrorToken(ErrorKind.DIED), RunError, r"a worker process ended unexpectedly \(exit code \?\)"),
    (ErrorToken(ErrorKind.BUG, "Traceback ...\nValueError: boom"), RuntimeError, "worker process failed:\nTraceback"),
])
def test_the_parent_raises_the_error_of_each_kind(token, raises, match):
    with pytest.raises(raises, match=match):
        _raise(token, [])
