function run_python(script, varargin)
    %RUN_PYTHON Run a Python helper script of the test suite with the venv's python.
    %   w2vtest.run_python(script, arg1, ...) passes every argument as data
    %   (w2v.internal.run_command) and fails the test (w2v:test:python) with
    %   the script's output when it exits non-zero.

    python = w2v.internal.python_gateway('interpreter');
    [status, output] = w2v.internal.run_command([{python, script}, varargin], 1);
    if status ~= 0
        error('w2v:test:python', '%s failed (%d): %s', script, status, output);
    end
end
