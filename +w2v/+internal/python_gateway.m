function varargout = python_gateway(action, varargin)
    %PYTHON_GATEWAY The one place that knows how Python is found and started.
    %   summary = w2v.internal.python_gateway('extract', request) writes REQUEST
    %       (struct, keys as in the backend's JSON request) to a temporary JSON
    %       file, runs "<venv python> -m w2vbackend --request ... --summary-json
    %       ..." as a subprocess (its progress streams to the command window) and
    %       returns the decoded summary (struct). Per-file failures are left in
    %       the summary; a missing environment or a backend that exits without a
    %       summary raises w2v:venvMissing or w2v:backendFailed.
    %   report = w2v.internal.python_gateway('doctor') is the decoded output of
    %       "<venv python> -m w2vbackend.doctor --json" (struct).
    %   summary = w2v.internal.python_gateway('resample', request) does the same
    %       as 'extract' with "-m w2vbackend.retime" (resampling of runs on disk,
    %       see w2v.resample), and 'calibrate' with "-m w2vbackend.calibrate_cli"
    %       (see w2v.calibrate).
    %   python = w2v.internal.python_gateway('interpreter') is the environment's
    %       interpreter (char); w2v:venvMissing when it does not exist.
    %   folder = w2v.internal.python_gateway('venv_dir') is where the environment
    %       is: W2V_VENV if set; else <root>/.venv or ~/.w2v/venv, whichever
    %       holds an environment; else <root>/.venv when the toolbox folder is
    %       writable, ~/.w2v/venv when it is not (setup_venv.py: the same rule).
    %   version = w2v.internal.python_gateway('venv_version') is the
    %       environment's Python version from its pyvenv.cfg, e.g. '3.11' ('' when
    %       unknown).
    %   [action, id, message, supported] = w2v.internal.python_gateway(
    %       'pyenv_check') is w2v.internal.pyenv_decision for this session
    %       (nothing is changed).
    %   python = w2v.internal.python_gateway('find_system_python', candidate)
    %       is a python3 >= 3.9 to build the environment with (CANDIDATE: a path,
    %       or '' to search); w2v:pythonNotFound / w2v:pythonTooOld otherwise.
    %   w2v.internal.python_gateway('setup', python, venvDir, extraArgs) runs
    %       setup_venv.py with that interpreter (EXTRAARGS: cellstr of flags);
    %       w2v:setupFailed with the script's one-line reason when it fails.
    %
    %   Parameters cross to Python only as JSON data; every program runs through
    %   w2v.internal.run_command, so no path ever reaches a shell as text.
    %   Windows is not supported (w2v:unsupportedPlatform).

    if ispc()
        error('w2v:unsupportedPlatform', ...
              ['w2v runs on Linux and macOS; Windows is not supported. Use WSL or a ' ...
               'Linux or macOS machine.']);
    end
    switch action
        case 'extract'
            varargout{1} = run_backend(varargin{1}, 'w2vbackend');
        case 'resample'
            varargout{1} = run_backend(varargin{1}, 'w2vbackend.retime');
        case 'calibrate'
            varargout{1} = run_backend(varargin{1}, 'w2vbackend.calibrate_cli');
        case 'doctor'
            varargout{1} = run_doctor();
        case 'interpreter'
            varargout{1} = venv_interpreter();
        case 'venv_dir'
            varargout{1} = venv_dir();
        case 'venv_version'
            varargout{1} = venv_version(venv_dir());
        case 'pyenv_check'
            [varargout{1:4}] = w2v.internal.pyenv_decision(pyenv_state(venv_interpreter()));
        case 'find_system_python'
            varargout{1} = find_system_python(varargin{1});
        case 'setup'
            run_setup(varargin{:});
        otherwise
            error('w2v:internal:badAction', 'Unknown gateway action "%s".', action);
    end
end

function folder = venv_dir()
    folder = getenv('W2V_VENV');
    if ~isempty(folder)
        return
    end
    inToolbox = fullfile(w2v.internal.toolbox_root(), '.venv');
    perUser = fullfile(getenv('HOME'), '.w2v', 'venv');
    if isfile(interpreter_in(inToolbox))
        folder = inToolbox;
    elseif isfile(interpreter_in(perUser))
        folder = perUser;
    elseif w2v.internal.is_writable(w2v.internal.toolbox_root())
        folder = inToolbox;
    else
        folder = perUser;
    end
end

function python = interpreter_in(folder)
    python = fullfile(folder, 'bin', 'python');
end

function python = venv_interpreter()
    folder = venv_dir();
    python = interpreter_in(folder);
    if ~isfile(python)
        error('w2v:venvMissing', ...
              ['No w2v Python environment at %s. Run w2v.setup() once to create it ' ...
               '(or set the W2V_VENV environment variable to the folder of an existing one).'], ...
              folder);
    end
end

function version = venv_version(folder)
    % pyvenv.cfg (written by venv, virtualenv and uv) names the base version.
    version = '';
    file = fullfile(folder, 'pyvenv.cfg');
    if isfile(file)
        found = regexp(w2v.internal.read_text(file), ...
                       '(?m)^\s*version(?:_info)?\s*=\s*(\d+\.\d+)', 'tokens', 'once');
        if ~isempty(found)
            version = found{1};
        end
    end
end

function summary = run_backend(request, module)
    python = venv_interpreter();
    use_pyenv(python);
    requestFile = [tempname() '_w2v_request.json'];
    summaryFile = [tempname() '_w2v_summary.json'];
    cleanup = onCleanup(@() delete_files({requestFile, summaryFile}));
    w2v.internal.write_text(requestFile, jsonencode(request));
    status = w2v.internal.run_command({python, '-m', module, '--request', requestFile, ...
                                       '--summary-json', summaryFile}, '', library_path());
    if ~isfile(summaryFile)
        error('w2v:backendFailed', ...
              ['The Python backend (%s) stopped with exit status %d before writing its ' ...
               'summary; the lines printed above say why.'], python, status);
    end
    summary = jsondecode(w2v.internal.read_text(summaryFile));
end

function report = run_doctor()
    python = venv_interpreter();
    errorFile = [tempname() '_w2v_doctor_err.txt'];
    cleanup = onCleanup(@() delete_files({errorFile}));
    [status, output] = w2v.internal.run_command({python, '-m', 'w2vbackend.doctor', '--json'}, ...
                                                errorFile, library_path());
    if status ~= 0
        error('w2v:backendFailed', '%s -m w2vbackend.doctor failed (exit %d): %s', ...
              python, status, strtrim(read_if_present(errorFile)));
    end
    report = jsondecode(output);
end

function state = pyenv_state(python)
    state = struct('is_octave', w2v.internal.is_octave(), 'status', '', 'executable', '', ...
                   'mode', '', 'venv_python', python, ...
                   'venv_version', venv_version(fileparts(fileparts(python))), 'release', '');
    if ~state.is_octave
        env = pyenv();
        state.status = char(env.Status);
        state.executable = char(env.Executable);
        state.mode = char(env.ExecutionMode);
        state.release = version('-release');
    end
end

function use_pyenv(python)
    % MATLAB only: point pyenv at the environment, out of process, when that is
    % harmless (torch and MATLAB's own MKL/libstdc++ clash inside one process).
    % The extraction itself runs in a subprocess and never needs pyenv, so
    % nothing here stops it; what cannot be done is said once per session.
    persistent explained
    [action, id, message] = w2v.internal.pyenv_decision(pyenv_state(python));
    if strcmp(action, 'select')
        try
            pyenv('Version', python, 'ExecutionMode', 'OutOfProcess');
        catch err
            id = 'w2v:pyenvFailed';
            message = sprintf(['pyenv could not select %s (%s); w2v.extract is not ' ...
                               'affected (it runs the environment as a separate process).'], ...
                              python, err.message);
        end
    end
    if ~isempty(id) && isempty(explained)
        explained = true;
        warning(id, '%s', message);
    end
end

function value = library_path()
    % MATLAB on Linux puts its own libraries first on LD_LIBRARY_PATH; torch in
    % the subprocess must load its own libstdc++ and MKL instead ([] = as is).
    value = [];
    if w2v.internal.is_octave() || ismac()
        return
    end
    entries = strsplit(getenv('LD_LIBRARY_PATH'), pathsep);
    keep = entries(~cellfun(@isempty, entries) & ~strncmp(entries, matlabroot, numel(matlabroot)));
    value = strjoin(keep, pathsep);
end

function delete_files(files)
    for k = 1:numel(files)
        if isfile(files{k})
            delete(files{k});
        end
    end
end

function text = read_if_present(file)
    text = '';
    if isfile(file)
        text = w2v.internal.read_text(file);
    end
end

function python = find_system_python(candidate)
    if ~isempty(candidate)
        [python, version] = probe(candidate);
        if isempty(python)
            error('w2v:pythonNotFound', '%s does not run as a Python interpreter.', candidate);
        end
        require_version(python, version);
        return
    end
    tooOld = '';
    commands = {'python3', 'python3.13', 'python3.12', 'python3.11', 'python3.10', ...
                'python3.9', '/usr/bin/python3', '/usr/local/bin/python3', ...
                '/opt/homebrew/bin/python3'};
    for k = 1:numel(commands)
        [python, version] = probe(commands{k});
        if ~isempty(python) && version >= 309
            return
        elseif ~isempty(python)
            tooOld = python;
        end
    end
    if ~isempty(tooOld)
        require_version(tooOld, 0);
    end
    error('w2v:pythonNotFound', ...
          ['No python3 (>= 3.9) found. Install Python 3.9 or newer (python.org, or your ' ...
           'package manager) and run w2v.setup() again, or pass its path: ' ...
           'w2v.setup(''Python'', ''/path/to/python3'').']);
end

function require_version(python, version)
    if version < 309
        error('w2v:pythonTooOld', ...
              ['%s is Python %d.%d; w2v needs Python 3.9 or newer ' ...
               '(pass another with ''Python'').'], ...
              python, floor(version / 100), mod(version, 100));
    end
end

function [python, version] = probe(command)
    % Ask a candidate for its version and absolute path in one marked line.
    code = ['import sys; v = sys.version_info; ' ...
            'print("W2V", v[0] * 100 + v[1], sys.executable)'];
    [status, output] = w2v.internal.run_command({command, '-c', code}, 1);
    python = '';
    version = 0;
    found = regexp(output, 'W2V (\d+) ([^\r\n]+)', 'tokens', 'once');
    if status == 0 && ~isempty(found)
        version = str2double(found{1});
        python = strtrim(found{2});
    end
end

function run_setup(python, folder, extraArgs)
    script = fullfile(w2v.internal.toolbox_root(), 'setup_venv.py');
    errorFile = [tempname() '_w2v_setup_err.txt'];
    cleanup = onCleanup(@() delete_files({errorFile}));
    % stdout (the progress lines) streams; stderr holds the one-line reason.
    status = w2v.internal.run_command([{python, script, '--venv', folder}, extraArgs(:)'], ...
                                      errorFile);
    if status ~= 0
        error('w2v:setupFailed', 'Setting up the Python environment failed (exit %d): %s', ...
              status, strtrim(read_if_present(errorFile)));
    end
end
