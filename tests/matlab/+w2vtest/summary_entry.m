function entry = summary_entry(audio, status, code, message)
    %SUMMARY_ENTRY One file's entry of a backend summary.
    %   entry = w2vtest.summary_entry(audio, status) for a written file, or
    %   entry = w2vtest.summary_entry(audio, 'failed', code, message).

    outputs = struct('npy', '/nowhere/x.npy', 'mat', '/nowhere/x.mat', ...
                     'json', '/nowhere/x.json', ...
                     'mat_failed', []);
    problem = [];
    if nargin > 2
        problem = struct('code', code, 'message', message);
        outputs = [];
    end
    entry = struct('audio', audio, 'status', status, 'basename', 'b', 'outputs', outputs, ...
                   'error', problem);
end
