function varargout = python_gateway(action, varargin)
    %PYTHON_GATEWAY The one place that knows how Python is found and started.
    %   summary = w2v.internal.python_gateway('extract', request) writes REQUEST
    %       (struct, keys as in the backend's JSON request) to a temporary JSON
    %       file, runs "<venv python> -m w2vbackend --request ... --summary-json
    %       ..." as a subprocess (its progress streams to the command window) and
    %       returns the decoded summary (struct). Per-file failures are left in
    %       the summary; a missing environment or a backend that exits without a
    %       summary raises w2v:venvMissing or w2v:backendFailed.
    %   summary = w2v.internal.python_gateway('resample', request) does the same
    %       with "-m w2vbackend.retime" (resampling of runs on disk, see
    %       w2v.resample).
    %   python = w2v.internal.python_gateway('interpreter') is the environment's
    %       interpreter (char); w2v:venvMissing when it does not exist.
    %   folder = w2v.internal.python_gateway('venv_dir') is where the environment
    %       is looked for: the W2V_VENV environment variable, else <root>/.venv.
    %   python = w2v.internal.python_gateway('find_system_python', candidate)
    %       is a python3 >= 3.9 to build the environment with (CANDIDATE: a path,
    %       or '' to search); w2v:pythonNotFound / w2v:pythonTooOld otherwise.
    %   w2v.internal.python_gateway('setup', python, venvDir, extraArgs) runs
    %       setup_venv.py with that interpreter (EXTRAARGS: cellstr of flags);
    %       w2v:setupFailed with the script's one-line reason when it fails.
    %
    %   Parameters cross to Python only as JSON data; the command line holds
    %   nothing but quoted paths of interpreters, scripts and temporary files.

    switch action
        case 'extract'
            varargout{1} = run_backend(varargin{1}, 'w2vbackend');
        case 'resample'
            varargout{1} = run_backend(varargin{1}, 'w2vbackend.retime');
        case 'interpreter'
            varargout{1} = venv_interpreter();
        case 'venv_dir'
            varargout{1} = venv_dir();
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
    if isempty(folder)
        folder = fullfile(w2v.internal.toolbox_root(), '.venv');
    end
end

function python = interpreter_in(folder)
    if ispc()
        python = fullfile(folder, 'Scripts', 'python.exe');
    else
        python = fullfile(folder, 'bin', 'python');
    end
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

function summary = run_backend(request, module)
    python = venv_interpreter();
    use_pyenv(python);
    requestFile = [tempname() '_w2v_request.json'];
    summaryFile = [tempname() '_w2v_summary.json'];
    cleanup = onCleanup(@() delete_files({requestFile, summaryFile}));
    w2v.internal.write_text(requestFile, jsonencode(request));
    q = @w2v.internal.shell_quote;
    command = [library_path_prefix() q(python) ' -m ' module ' --request ' q(requestFile) ...
               ' --summary-json ' q(summaryFile)];
    status = system(for_shell(command));
    if ~isfile(summaryFile)
        error('w2v:backendFailed', ...
              ['The Python backend (%s) stopped with exit status %d before writing its ' ...
               'summary; the lines printed above say why.'], python, status);
    end
    summary = jsondecode(w2v.internal.read_text(summaryFile));
end

function use_pyenv(python)
    % MATLAB only: point pyenv at the environment, out of process, because torch
    % and MATLAB's own MKL/libstdc++ clash inside one process. The extraction
    % itself runs in a subprocess and does not need pyenv.
    if w2v.internal.is_octave()
        return
    end
    env = pyenv();
    if strcmp(char(env.Status), 'Loaded')
        if ~strcmp(char(env.ExecutionMode), 'OutOfProcess') || ~strcmp(char(env.Executable), python)
            error('w2v:pythonAlreadyLoaded', ...
                  ['MATLAB has already loaded the Python interpreter %s (%s); w2v needs %s ' ...
                   'out of process. Restart MATLAB and call w2v before any py.* command.'], ...
                  char(env.Executable), char(env.ExecutionMode), python);
        end
        return
    end
    try
        pyenv('Version', python, 'ExecutionMode', 'OutOfProcess');
    catch err
        warning('w2v:pyenvFailed', ...
                'pyenv could not select %s (%s); continuing with the subprocess only.', ...
                python, err.message);
    end
end

function prefix = library_path_prefix()
    % MATLAB on Linux puts its own libraries first on LD_LIBRARY_PATH; torch in
    % the subprocess must load its own libstdc++ and MKL instead.
    prefix = '';
    if w2v.internal.is_octave() || ~isunix() || ismac()
        return
    end
    entries = strsplit(getenv('LD_LIBRARY_PATH'), pathsep);
    keep = entries(~cellfun(@isempty, entries) & ~strncmp(entries, matlabroot, numel(matlabroot)));
    prefix = ['LD_LIBRARY_PATH=' w2v.internal.shell_quote(strjoin(keep, pathsep)) ' '];
end

function command = for_shell(command)
    % cmd.exe /c strips the first and the last quote of a line that starts with
    % one; an extra outer pair keeps the quoted interpreter path intact.
    if ispc()
        command = ['"' command '"'];
    end
end

function delete_files(files)
    for k = 1:numel(files)
        if isfile(files{k})
            delete(files{k});
        end
    end
end

function python = find_system_python(candidate)
    if ~isempty(candidate)
        [python, version] = probe(w2v.internal.shell_quote(candidate));
        if isempty(python)
            error('w2v:pythonNotFound', '%s does not run as a Python interpreter.', candidate);
        end
        require_version(python, version);
        return
    end
    tooOld = '';
    commands = candidate_commands();
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

function commands = candidate_commands()
    if ispc()
        commands = {'py -3', 'python', 'python3'};
    else
        commands = {'python3', 'python3.13', 'python3.12', 'python3.11', 'python3.10', ...
                    'python3.9', '/usr/bin/python3', '/usr/local/bin/python3', ...
                    '/opt/homebrew/bin/python3'};
    end
end

function [python, version] = probe(command)
    % Ask a candidate for its version and absolute path in one marked line.
    code = ['import sys; v = sys.version_info; ' ...
            'print(''W2V'', v[0] * 100 + v[1], sys.executable)'];
    [status, output] = system(for_shell([command ' -c "' code '" 2>&1']));
    python = '';
    version = 0;
    found = regexp(output, 'W2V (\d+) ([^\r\n]+)', 'tokens', 'once');
    if status == 0 && ~isempty(found)
        version = str2double(found{1});
        python = strtrim(found{2});
    end
end

function run_setup(python, folder, extraArgs)
    q = @w2v.internal.shell_quote;
    script = fullfile(w2v.internal.toolbox_root(), 'setup_venv.py');
    errorFile = [tempname() '_w2v_setup_err.txt'];
    cleanup = onCleanup(@() delete_files({errorFile}));
    command = [q(python) ' ' q(script) ' --venv ' q(folder) sprintf(' %s', extraArgs{:}) ...
               ' 2> ' q(errorFile)];
    % stdout (the progress lines) streams; stderr holds the one-line reason.
    status = system(for_shell(command));
    if status ~= 0
        reason = '';
        if isfile(errorFile)
            reason = strtrim(w2v.internal.read_text(errorFile));
        end
        error('w2v:setupFailed', 'Setting up the Python environment failed (exit %d): %s', ...
              status, reason);
    end
end
