function root = toolbox_root()
    %TOOLBOX_ROOT Absolute path of the folder that holds +w2v (char row).
    %   root = w2v.internal.toolbox_root() is the repository root of a checkout,
    %   or the installation folder of a toolbox installed from an .mltbx.

    here = mfilename('fullpath');             % <root>/+w2v/+internal/toolbox_root
    root = fileparts(fileparts(fileparts(here)));
end
