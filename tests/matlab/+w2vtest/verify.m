function verify(condition, varargin)
    %VERIFY Fail the running test unless CONDITION is true.
    %   w2vtest.verify(condition, format, args...) raises w2v:test:assertion
    %   with the formatted message when CONDITION is false or empty.

    if isempty(condition) || ~all(condition(:))
        if isempty(varargin)
            varargin = {'condition is false'};
        end
        error('w2v:test:assertion', varargin{:});
    end
end
