function err = assert_error(action, identifier)
    %ASSERT_ERROR Check that ACTION() raises an error with IDENTIFIER.
    %   err = w2vtest.assert_error(@() ..., 'w2v:audioNotFound') returns the
    %   caught error (MException in MATLAB, struct in Octave).

    try
        action();
    catch err
        if ~strcmp(err.identifier, identifier)
            error('w2v:test:assertion', 'expected error %s, got %s: %s', ...
                  identifier, err.identifier, err.message);
        end
        return
    end
    error('w2v:test:assertion', 'expected error %s, but no error was raised', identifier);
end
