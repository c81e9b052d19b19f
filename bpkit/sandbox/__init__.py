"""Running untrusted code: a pre-forked worker (``worker``), one confined child per submission (``child``,
``confine``, ``landlock``, ``netns``), what crosses between them (``protocol``), the reference-free copies of the
exercise calls the child runs (``isolate``), and the grader's handle on a worker (``runner``).

Nothing here imports ``bpkit.grading``; grading imports this.
"""
