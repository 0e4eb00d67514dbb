function run_python(script, varargin)
    %RUN_PYTHON Run a Python helper script of the test suite with the venv's python.
    %   w2vtest.run_python(script, arg1, ...) quotes every argument and fails
    %   the test (w2v:test:python) with the script's output when it exits
    %   non-zero.

    q = @w2v.internal.shell_quote;
    python = w2v.internal.python_gateway('interpreter');
    args = cellfun(q, varargin, 'UniformOutput', false);
    [status, output] = system([q(python) ' ' q(script) sprintf(' %s', args{:}) ' 2>&1']);
    if status ~= 0
        error('w2v:test:python', '%s failed (%d): %s', script, status, output);
    end
end
