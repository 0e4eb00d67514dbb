function require_backend()
    %REQUIRE_BACKEND Skip the running test unless the real Python backend can run.
    %   w2vtest.require_backend() skips when the environment (W2V_VENV or
    %   <root>/.venv) or the backend's command-line module is missing. Under CI
    %   (CI=true) or with W2V_TEST_REQUIRE_BACKEND=1 it fails instead, so a
    %   broken environment cannot pass as a row of skips.

    reason = '';
    try
        w2v.internal.python_gateway('interpreter');
    catch err
        reason = ['no Python environment: ' err.message];
    end
    cli = fullfile(w2v.internal.toolbox_root(), 'python', 'w2vbackend', 'cli.py');
    if isempty(reason) && ~isfile(cli)
        reason = 'the Python backend has no cli.py';
    end
    strict = strcmp(getenv('W2V_TEST_REQUIRE_BACKEND'), '1') || ...
             any(strcmpi(getenv('CI'), {'1', 'true', 'yes'}));
    if ~isempty(reason) && strict
        error('w2v:test:noBackend', '%s (required under CI / W2V_TEST_REQUIRE_BACKEND=1)', reason);
    elseif ~isempty(reason)
        w2vtest.skip(reason);
    end
    % No test may reach a model hub.
    setenv('HF_HUB_OFFLINE', '1');
    setenv('TRANSFORMERS_OFFLINE', '1');
end
