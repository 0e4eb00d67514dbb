function report = calibrate(audioFile, varargin)
    %CALIBRATE Which chunk and context your model needs, measured on your recording.
    %   report = w2v.calibrate(audioFile)
    %   report = w2v.calibrate(audioFile, Name, Value)
    %
    %   Runs w2v-calibrate: an excerpt of the recording is computed chunked for
    %   each chunk x context of a grid and compared frame by frame with one
    %   forward pass over the whole excerpt. Writes <BaseName>.md (a table and
    %   a sentence for a methods section), <BaseName>.json and <BaseName>.png
    %   (1 - cosine against the distance to the nearest cut) to OutputDir.
    %
    %   Input
    %     audioFile  char or string: one audio file
    %
    %   Output
    %     report     struct decoded from <BaseName>.json: settings (one entry
    %                per chunk x context: chunk_seconds, context_seconds,
    %                worst_cosine, median_cosine, relative_cost, ...),
    %                recommended (the cheapest setting that reaches Target, or
    %                []), target, ...; plus files (md, json, png paths).
    %
    %   Name-Value options (defaults in brackets, those of w2v-calibrate)
    %     Model             hub id or checkpoint folder
    %                       ['facebook/wav2vec2-large-xlsr-53']
    %     Layers            hidden states to compare, as in w2v.extract ['last']
    %     Chunks            chunk lengths to try, s [[10 20 40]]
    %     Contexts          attention contexts to try, s [[0 0.5 1 2]]
    %     ReferenceSeconds  excerpt run as one reference pass; the longest
    %                       that fits in memory, s [60]
    %     StartSeconds      where the excerpt starts, s [0]
    %     Target            worst cosine the recommendation must reach [0.999]
    %     Device, DType, Revision, Threads  as in w2v.extract
    %     OutputDir         folder for the report ['.']
    %     BaseName          base name of the report files ['w2v_calibration']
    %     Quiet             no progress lines [false]
    %
    %   Errors: w2v:badArgument, w2v:audioNotFound, w2v:modelLoadFailed,
    %   w2v:backendFailed and the other identifiers of w2v.extract.
    %
    %   Example
    %     report = w2v.calibrate('examples/sentence.wav', 'Chunks', [2 4], ...
    %                            'Contexts', [0 0.5], 'ReferenceSeconds', 5);
    %     disp(report.recommended)
    %
    %   See also w2v.extract, w2v.doctor.

    if nargin < 1 || ~w2v.internal.is_text(audioFile)
        error('w2v:badArgument', 'w2v.calibrate needs one audio file as first argument.');
    end
    parser = inputParser();
    parser.FunctionName = 'w2v.calibrate';
    names = {'Model', 'model'; 'Layers', 'layers'; 'Chunks', 'chunks'; ...
             'Contexts', 'contexts'; 'ReferenceSeconds', 'reference_seconds'; ...
             'StartSeconds', 'start_seconds'; 'Target', 'target'; 'Device', 'device'; ...
             'DType', 'dtype'; 'Revision', 'revision'; 'Threads', 'threads'; ...
             'OutputDir', 'output_dir'; 'BaseName', 'basename'; 'Quiet', 'quiet'};
    for k = 1:size(names, 1)
        parser.addParameter(names{k, 1}, [], @(x) true);
    end
    try
        parser.parse(varargin{:});
    catch err
        error('w2v:badArgument', '%s', err.message);
    end
    here = pwd();
    request = struct('audio', w2v.internal.absolute_path(char(audioFile), here));
    for k = 1:size(names, 1)
        value = parser.Results.(names{k, 1});
        if isempty(value)
            continue
        end
        request.(names{k, 2}) = calibrate_value(names{k, 1}, value, here);
    end
    summary = w2v.internal.python_gateway('calibrate', request);
    if ~summary.ok
        problem = summary.error;
        error(['w2v:' problem.code], '%s', problem.message);
    end
    report = jsondecode(w2v.internal.read_text(summary.report.json));
    report.files = summary.report;
end

function value = calibrate_value(name, value, here)
    % Numbers as doubles (lists stay lists in JSON), text as char, paths absolute.
    if isstring(value)
        value = char(value);
    end
    switch name
        case {'Chunks', 'Contexts'}
            value = num2cell(double(value(:)'));
        case 'OutputDir'
            value = w2v.internal.absolute_path(value, here);
        case 'Model'
            if isfolder(value)
                value = w2v.internal.absolute_path(value, here);
            end
        case 'Quiet'
            value = logical(value);
        otherwise
            if isnumeric(value)
                value = double(value);
            end
    end
end
