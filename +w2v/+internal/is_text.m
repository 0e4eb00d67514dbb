function tf = is_text(value)
    %IS_TEXT True for a character row vector or a string scalar.
    %   tf = w2v.internal.is_text(value) returns a logical scalar; an empty
    %   char ('') counts as text.

    tf = (ischar(value) && (isrow(value) || isempty(value))) || ...
         (isstring(value) && isscalar(value));
end
