function python = setup(varargin)
    %SETUP Create or update the Python environment that w2v runs in.
    %   w2v.setup()
    %   python = w2v.setup(Name, Value, ...)
    %
    %   Finds a system python3 (3.9 or newer) and runs setup_venv.py with it,
    %   which creates the environment (torch, transformers and the w2v backend)
    %   or updates it; a second run with nothing changed takes seconds. Its
    %   progress is printed as it goes. Needs internet access the first time.
    %
    %   Where the environment goes: VenvDir if given, else the W2V_VENV
    %   environment variable, else <toolbox folder>/.venv when the toolbox
    %   folder is writable (a checkout), else ~/.w2v/venv (a toolbox installed
    %   read-only, e.g. from an .mltbx); every w2v function looks in the same
    %   places. The backend is installed as a copy (pip install of a snapshot
    %   of python/), so nothing is written into the toolbox folder; Dev
    %   installs it editable instead, for work on a checkout. With a VenvDir
    %   that is none of these, w2v.setup sets W2V_VENV for this session; add
    %   the printed setenv line to startup.m so later sessions find it too.
    %
    %   Output
    %     python  char: absolute path of the environment's interpreter
    %
    %   Name-Value options (defaults in brackets)
    %     Python    python3 to build the environment with ['' = search PATH and
    %               the usual install locations]
    %     VenvDir   environment folder [W2V_VENV, else <toolbox folder>/.venv
    %               when writable, else ~/.w2v/venv]
    %     Dev       editable backend plus test and lint tools [false]
    %     Recreate  delete the environment first [false]
    %
    %   Errors: w2v:pythonNotFound, w2v:pythonTooOld, w2v:venvNotWritable,
    %   w2v:setupFailed (with the script's reason and the path of its log),
    %   w2v:unsupportedPlatform (Windows).
    %
    %   Example
    %     w2v.setup();                       % once, after installing the toolbox
    %
    %   See also w2v.extract, w2v.doctor, w2v.version.

    parser = inputParser();
    parser.FunctionName = 'w2v.setup';
    parser.addParameter('Python', '', @w2v.internal.is_text);
    parser.addParameter('VenvDir', '', @w2v.internal.is_text);
    parser.addParameter('Dev', false, @(x) (islogical(x) || isnumeric(x)) && isscalar(x));
    parser.addParameter('Recreate', false, @(x) (islogical(x) || isnumeric(x)) && isscalar(x));
    try
        parser.parse(varargin{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    opts = parser.Results;

    folder = char(opts.VenvDir);
    if isempty(folder)
        folder = w2v.internal.python_gateway('venv_dir');
    end
    folder = w2v.internal.absolute_path(folder, pwd());
    require_writable(folder);
    systemPython = w2v.internal.python_gateway('find_system_python', char(opts.Python));
    fprintf('w2v.setup: building %s with %s\n', folder, systemPython);
    flags = {};
    if opts.Dev
        flags{end + 1} = '--dev';
    end
    if opts.Recreate
        flags{end + 1} = '--recreate';
    end
    w2v.internal.python_gateway('setup', systemPython, folder, flags);

    if ~strcmp(folder, w2v.internal.python_gateway('venv_dir'))
        setenv('W2V_VENV', folder);
        quoted = strrep(folder, '''', '''''');
        fprintf(['w2v.setup: W2V_VENV is set for this session; for later sessions add ' ...
                 'this line to startup.m:\n  setenv(''W2V_VENV'', ''%s'');\n'], quoted);
    end
    python = w2v.internal.python_gateway('interpreter');
end

function require_writable(folder)
    % The folder itself, or the nearest existing parent, must take new files.
    [writable, probe] = w2v.internal.is_writable(folder);
    if ~writable
        error('w2v:venvNotWritable', ...
              ['Cannot create the Python environment in %s (%s is not writable). Pass a ' ...
               'writable folder: w2v.setup(''VenvDir'', fullfile(userpath, ''w2v-venv''))'], ...
              folder, probe);
    end
end
