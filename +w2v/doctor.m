function report = doctor(varargin)
    %DOCTOR Check the w2v set-up and say how to fix what is wrong.
    %   w2v.doctor()
    %   report = w2v.doctor(Name, Value)
    %
    %   Prints one line per check ("ok" or "PROBLEM"), each problem with its
    %   fix, and returns the findings. Runs nothing heavy: the Python side is
    %   one call of "python -m w2vbackend.doctor --json" in the environment.
    %
    %   Output (scalar struct)
    %     ok              logical: every check passed
    %     checks          struct array, one per check, fields name (char), ok
    %                     (logical), detail (char: what was found), fix (char:
    %                     what to do; '' when ok)
    %     interpreter     char, e.g. 'MATLAB R2024b' or 'GNU Octave 7.3.0'
    %     venv            char: the environment folder w2v uses
    %     python_version  char, e.g. '3.11' ('' without an environment)
    %     pyenv_supported logical: this MATLAB release's pyenv accepts that
    %                     Python ([] in Octave, which has no pyenv, and for a
    %                     release before R2023b)
    %     backend_version char ('' when the backend does not import)
    %     torch_version   char ('' when torch does not import)
    %     cuda_devices    cell array of char: CUDA devices torch sees
    %     mps             logical: Apple's MPS device is available
    %     hf_cache        char: the Hugging Face hub cache folder
    %     model_cached    logical: the default model is in that cache
    %     output_dir      char: the folder checked for write access
    %     shell           char: the shell system() starts (w2v does not depend
    %                     on it: every command is run by /bin/sh)
    %
    %   Name-Value options (defaults in brackets)
    %     OutputDir  folder the outputs will go to [pwd()]
    %
    %   Example
    %     r = w2v.doctor();
    %     if ~r.ok, disp({r.checks(~[r.checks.ok]).fix}'); end
    %
    %   See also w2v.setup, w2v.extract, w2v.version.

    parser = inputParser();
    parser.FunctionName = 'w2v.doctor';
    parser.addParameter('OutputDir', pwd(), @(x) w2v.internal.is_text(x) && ~isempty(x));
    try
        parser.parse(varargin{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    report = w2v.internal.doctor_checks(char(parser.Results.OutputDir));
    for k = 1:numel(report.checks)
        c = report.checks(k);
        tags = {'PROBLEM', 'ok     '};
        fprintf('%s %-12s %s\n', tags{c.ok + 1}, c.name, c.detail);
        if ~isempty(c.fix)
            fprintf('        %-12s fix: %s\n', '', c.fix);
        end
    end
end
