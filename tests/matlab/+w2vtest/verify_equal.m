function verify_equal(actual, expected, what, tolerance)
    %VERIFY_EQUAL Fail unless ACTUAL equals EXPECTED (same class and size).
    %   w2vtest.verify_equal(actual, expected, what)
    %   w2vtest.verify_equal(actual, expected, what, tolerance) compares numeric
    %   values with an absolute TOLERANCE instead of exactly. WHAT names the
    %   value in the failure message.

    if nargin < 4
        tolerance = 0;
    end
    if ~strcmp(class(actual), class(expected))
        error('w2v:test:assertion', '%s: class %s, expected %s', ...
              what, class(actual), class(expected));
    end
    if ~isequal(size(actual), size(expected))
        error('w2v:test:assertion', '%s: size %s, expected %s', what, ...
              mat2str(size(actual)), mat2str(size(expected)));
    end
    if isnumeric(actual) && tolerance > 0
        worst = max(abs(double(actual(:)) - double(expected(:))));
        if ~isempty(worst) && ~(worst <= tolerance)
            error('w2v:test:assertion', '%s: differs by %g (tolerance %g)', what, worst, tolerance);
        end
    elseif ~isequal(actual, expected)
        error('w2v:test:assertion', '%s: values differ', what);
    end
end
