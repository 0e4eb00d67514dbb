function remove_folder(folder)
    %REMOVE_FOLDER Delete a folder and everything in it, without prompting.
    %   w2vtest.remove_folder(folder). Not copyfile/movefile or a shell
    %   command: the names in these folders must never reach a shell.

    if ~isfolder(folder)
        return
    end
    if w2v.internal.is_octave()
        confirm_recursive_rmdir(false, 'local');
    end
    rmdir(folder, 's');
end
