import doctest

from rl_reasoner import score
from rl_reasoner.cli import main


def test_doctests():
    assert doctest.testmod(score).failed == 0


def test_score_command_explains_a_math_verdict(capsys):
    completion = "<think>half of it</think><answer>Therefore $x = \\dfrac{1}{2}$.</answer>"
    assert main(["score", "--reward", "math_accuracy", "--gold", "\\frac12", completion]) == 0
    out = capsys.readouterr().out
    assert "answer:  'Therefore $x = \\\\dfrac{1}{2}$'" in out
    assert "path:    math-verify" in out and "reason:  correct" in out and "score:   1.0" in out


def test_score_command_shows_the_fast_path_and_undecided_golds(capsys):
    assert main(["score", "--gold", "1,000", "<answer>1 000</answer>"]) == 0
    out = capsys.readouterr().out
    assert "path:    fast path" in out and "score:   1.0" in out
    assert main(["score", "--gold", "forty two", "<answer>42</answer>"]) == 0
    assert "reason:  gold_unparseable\nscore:   None" in capsys.readouterr().out


def test_score_command_params_and_other_rewards(capsys):
    assert main(["score", "--gold", "15", "--param", "plain_number_answer=true", "<answer>10 + 5</answer>"]) == 0
    assert "reason:  not_a_number" in capsys.readouterr().out
    assert main(["score", "--reward", "countdown", "--column", "numbers=[3, 5, 7]", "--column", "target=56",
                 "<answer>(3 + 5) * 7</answer>"]) == 0  # fmt: skip
    assert "reason:  correct" in capsys.readouterr().out


def test_score_command_errors_are_one_line(capsys):
    assert main(["score", "--reward", "math_acuracy", "--gold", "1", "x"]) == 2
    assert "Did you mean 'math_accuracy'" in capsys.readouterr().err
    assert main(["score", "--param", "timout=3", "--gold", "1", "x"]) == 2
    assert "Did you mean 'timeout'" in capsys.readouterr().err
    assert main(["score", "x"]) == 2
    assert "--gold" in capsys.readouterr().err
