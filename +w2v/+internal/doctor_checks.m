function report = doctor_checks(outputDir)
    %DOCTOR_CHECKS The findings of w2v.doctor (struct, fields as documented there).
    %   report = w2v.internal.doctor_checks(outputDir) prints nothing.

    report = struct('ok', true, 'checks', struct('name', {}, 'ok', {}, 'detail', {}, 'fix', {}), ...
                    'interpreter', interpreter(), 'venv', '', 'python_version', '', ...
                    'pyenv_supported', [], 'backend_version', '', 'torch_version', '', ...
                    'cuda_devices', {{}}, 'mps', false, 'hf_cache', '', 'model_cached', false, ...
                    'output_dir', w2v.internal.absolute_path(outputDir, pwd()), ...
                    'shell', shell());
    report = add(report, 'interpreter', true, report.interpreter, '');
    if ispc()
        report = add(report, 'platform', false, 'Windows', ...
                     'w2v runs on Linux and macOS; use WSL or another machine');
        return
    end
    report = add(report, 'platform', true, computer(), '');
    report = environment_checks(report);
    [writable, probe] = w2v.internal.is_writable(report.output_dir);
    report = add(report, 'output', writable, sprintf('%s (%s)', report.output_dir, ...
                                                     yes_no(writable, 'writable', ...
                                                            [probe ' is not writable'])), ...
                 'pass a writable OutputDir to w2v.extract (and to w2v.doctor to check it)');
    report = add(report, 'shell', true, [report.shell ...
                                         ' (w2v runs every command through /bin/sh)'], '');
    report.ok = all([report.checks.ok]);
end

function report = environment_checks(report)
    report.venv = w2v.internal.python_gateway('venv_dir');
    try
        w2v.internal.python_gateway('interpreter');
    catch err
        report = add(report, 'environment', false, err.message, 'run w2v.setup()');
        return
    end
    report.python_version = w2v.internal.python_gateway('venv_version');
    report = add(report, 'environment', true, sprintf('%s (Python %s)', report.venv, ...
                                                      report.python_version), '');
    if ~w2v.internal.is_octave()
        [action, ~, message, supported] = w2v.internal.python_gateway('pyenv_check');
        report.pyenv_supported = supported;
        detail = yes_no(isequal(supported, true), 'this release''s pyenv accepts it', ...
                        yes_no(isempty(supported), 'not in w2v''s table of releases', ...
                               'this release''s pyenv does not accept it'));
        if ~isempty(message)
            detail = [detail '; ' message];
        end
        report = add(report, 'pyenv', true, [detail ' (w2v: ' action ')'], '');
    end
    try
        found = w2v.internal.python_gateway('doctor');
    catch err
        report = add(report, 'backend', false, err.message, ...
                     'run w2v.setup(''Recreate'', true)');
        return
    end
    report = python_checks(report, found);
end

function report = python_checks(report, found)
    setupFix = 'run w2v.setup() (it installs the backend of this toolbox version)';
    if found.backend.ok
        report.backend_version = found.backend.version;
        same = strcmp(report.backend_version, w2v.version());
        report = add(report, 'backend', same, sprintf('version %s at %s (toolbox %s)', ...
                                                      report.backend_version, ...
                                                      found.backend.path, w2v.version()), ...
                     setupFix);
    else
        report = add(report, 'backend', false, found.backend.error, setupFix);
    end
    if found.torch.ok
        report.torch_version = found.torch.version;
        report.cuda_devices = {};
        if ~isempty(found.torch.cuda.devices)
            report.cuda_devices = cellstr(found.torch.cuda.devices);
        end
        report.mps = logical(found.torch.mps.available);
        devices = [{'cpu'}, report.cuda_devices(:)', repmat({'mps'}, 1, report.mps)];
        report = add(report, 'torch', true, sprintf('%s; devices: %s', report.torch_version, ...
                                                    strjoin(devices, ', ')), '');
    else
        report = add(report, 'torch', false, found.torch.error, ...
                     'run w2v.setup(''Recreate'', true)');
    end
    if found.hf_cache.ok
        report.hf_cache = found.hf_cache.path;
        report.model_cached = logical(found.hf_cache.default_model_cached);
        detail = sprintf('%s; %s %s', report.hf_cache, found.hf_cache.default_model, ...
                         yes_no(report.model_cached, 'is cached', 'is not cached yet'));
        report = add(report, 'model cache', true, detail, '');
    else
        report = add(report, 'model cache', false, found.hf_cache.error, setupFix);
    end
end

function report = add(report, name, ok, detail, fix)
    if ok
        fix = '';
    end
    report.checks(end + 1) = struct('name', name, 'ok', logical(ok), 'detail', detail, 'fix', fix);
end

function text = interpreter()
    if w2v.internal.is_octave()
        text = ['GNU Octave ' OCTAVE_VERSION()];
    else
        text = ['MATLAB R' version('-release')];
    end
end

function name = shell()
    % MATLAB's system() starts MATLAB_SHELL, else SHELL, else /bin/sh; Octave's
    % always starts /bin/sh.
    name = '/bin/sh';
    if ~w2v.internal.is_octave()
        for variable = {'MATLAB_SHELL', 'SHELL'}
            if ~isempty(getenv(variable{1}))
                name = getenv(variable{1});
                return
            end
        end
    end
end

function text = yes_no(condition, yes, no)
    text = no;
    if condition
        text = yes;
    end
end
