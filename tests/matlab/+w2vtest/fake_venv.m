function fake = fake_venv(summary, exitCode, probeVersion)
    %FAKE_VENV A stand-in Python environment whose interpreter is a shell script.
    %   fake = w2vtest.fake_venv(summary, exitCode) creates a folder (with a
    %   space and a quote in its name) holding bin/python, which records its
    %   arguments and the request file, copies SUMMARY (char JSON; '' for none)
    %   to the summary path it was given and exits with EXITCODE. Called as
    %   "python script.py --venv DIR ..." (w2v.setup) it records the arguments
    %   and creates DIR/bin/python. Called with -c (the version probe of
    %   w2v.setup) it answers as Python PROBEVERSION (e.g. 311, the default).
    %   fake has fields folder, python, args (file of recorded arguments, one a
    %   line) and request (copy of the request file); fake.restore resets
    %   W2V_VENV when cleared.

    if nargin < 3
        probeVersion = 311;
    end
    fake.folder = [tempname() ' fake ''venv'''];
    mkdir(fullfile(fake.folder, 'bin'));
    fake.python = fullfile(fake.folder, 'bin', 'python');
    fake.args = fullfile(fake.folder, 'args.txt');
    fake.request = fullfile(fake.folder, 'request.json');
    if ~isempty(summary)
        w2v.internal.write_text(fullfile(fake.folder, 'summary.json'), summary);
    end
    script = { ...
              '#!/bin/sh', ...
              'here=$(cd "$(dirname "$0")/.." && pwd)', ...
              'printf ''%s\n'' "$@" > "$here/args.txt"', ...
              sprintf('if [ "$1" = "-c" ]; then echo "W2V %d $0"; exit 0; fi', probeVersion), ...
              'if [ "$2" = "--venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi', ...
              'if [ "$3" = "--request" ]; then cp "$4" "$here/request.json"; fi', ...
              'if [ -f "$here/summary.json" ]; then cp "$here/summary.json" "$6"; fi', ...
              'if [ -f "$here/stderr.txt" ]; then cat "$here/stderr.txt" >&2; fi', ...
              sprintf('exit %d', exitCode)};
    w2v.internal.write_text(fake.python, sprintf('%s\n', script{:}));
    w2v.internal.run_command({'chmod', '+x', fake.python});
    fake.restore = w2vtest.set_env('W2V_VENV', fake.folder);
    fake.cleanup = onCleanup(@() w2vtest.remove_folder(fake.folder));
end
