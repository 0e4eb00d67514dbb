function text = summary_json(files, exitCode)
    %SUMMARY_JSON A backend summary (JSON text) as the backend's contract defines it.
    %   text = w2vtest.summary_json(files, exitCode): FILES is a struct array
    %   with fields audio, status, basename, outputs, error.

    summary = struct('ok', exitCode == 0, 'exit_code', exitCode, 'version', w2v.version());
    summary.files = files;
    text = jsonencode(summary);
end
