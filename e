/dev/fd/3: line 56: labrun: command not found
