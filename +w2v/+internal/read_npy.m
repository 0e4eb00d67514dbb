function data = read_npy(file)
    %READ_NPY Read a NumPy .npy file (little-endian float/int, C or Fortran order).
    %   data = w2v.internal.read_npy(file) returns an array of size equal to the
    %   file's shape (a 1-D array becomes a column), in the class that matches
    %   its dtype (float32 -> single, float64 -> double, int64 -> int64, ...).
    %   A C-ordered (num_layers, num_frames, hidden) array therefore comes back
    %   as [num_layers x num_frames x hidden]. Errors w2v:npyUnreadable.

    fid = fopen(file, 'r', 'ieee-le');
    if fid < 0
        error('w2v:npyUnreadable', 'Cannot open %s.', file);
    end
    closer = onCleanup(@() fclose(fid));
    [descr, fortranOrder, shape] = read_header(fid, file);
    precision = npy_precision(descr, file);
    count = prod(shape);
    [data, read] = fread(fid, count, [precision '=>' precision], 0, 'ieee-le');
    if read ~= count
        error('w2v:npyUnreadable', '%s holds %d of its %d values.', file, read, count);
    end
    if numel(shape) == 1
        return                                    % already a column
    end
    if fortranOrder
        data = reshape(data, shape);
    else
        data = permute(reshape(data, fliplr(shape)), numel(shape):-1:1);
    end
end

function [descr, fortranOrder, shape] = read_header(fid, file)
    magic = fread(fid, 6, 'uint8=>uint8')';
    if ~isequal(magic, uint8([147 78 85 77 80 89]))     % "\x93NUMPY"
        error('w2v:npyUnreadable', '%s is not a .npy file.', file);
    end
    version = fread(fid, 2, 'uint8')';
    if version(1) == 1
        headerLength = fread(fid, 1, 'uint16', 0, 'ieee-le');
    else
        headerLength = fread(fid, 1, 'uint32', 0, 'ieee-le');
    end
    header = fread(fid, headerLength, 'uint8=>char')';
    descr = regexp(header, '''descr'':\s*''([^'']*)''', 'tokens', 'once');
    order = regexp(header, '''fortran_order'':\s*(True|False)', 'tokens', 'once');
    dims = regexp(header, '''shape'':\s*\(([^)]*)\)', 'tokens', 'once');
    if isempty(descr) || isempty(order) || isempty(dims)
        error('w2v:npyUnreadable', '%s has an unreadable header.', file);
    end
    descr = descr{1};
    fortranOrder = strcmp(order{1}, 'True');
    shape = str2double(regexp(dims{1}, '\d+', 'match'));
    if isempty(shape)
        shape = 1;                                % a 0-d array holds one value
    end
end

function precision = npy_precision(descr, file)
    types = {'<f4', 'single'; '<f8', 'double'; '<i8', 'int64'; '<i4', 'int32'; ...
             '<i2', 'int16'; '|u1', 'uint8'; '|i1', 'int8'};
    row = find(strcmp(types(:, 1), descr), 1);
    if isempty(row)
        error('w2v:npyUnreadable', '%s has dtype %s, which w2v does not read.', file, descr);
    end
    precision = types{row, 2};
end
