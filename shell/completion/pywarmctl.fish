# pywarmctl.fish: fish completion for pywarmctl (installed in vendor_completions.d; also part of `pywarmctl shell-init fish`).
complete -c pywarmctl -f
complete -c pywarmctl -n __fish_use_subcommand -a start -d "Start this directory's zygote"
complete -c pywarmctl -n __fish_use_subcommand -a stop -d 'Stop that zygote, or every one'
complete -c pywarmctl -n __fish_use_subcommand -a status -d 'Describe every running zygote'
complete -c pywarmctl -n __fish_use_subcommand -a check -d 'Validate a profile'
complete -c pywarmctl -n __fish_use_subcommand -a which -d 'Show which profile applies here'
complete -c pywarmctl -n __fish_use_subcommand -a suggest -d 'What runs import beyond the preload'
complete -c pywarmctl -n __fish_use_subcommand -a learn -d 'Add the safe ones to the profile'
complete -c pywarmctl -n __fish_use_subcommand -a interpreters -d 'List the interpreters found here, warm or cold'
complete -c pywarmctl -n __fish_use_subcommand -a trust -d 'Approve a project profile'
complete -c pywarmctl -n __fish_use_subcommand -a untrust -d 'Withdraw that approval'
complete -c pywarmctl -n __fish_use_subcommand -a shell-init -d 'Print the shell integration'
complete -c pywarmctl -n __fish_use_subcommand -a enable -d 'Enable the systemd user units'
complete -c pywarmctl -n __fish_use_subcommand -a disable -d 'Disable the systemd user units'
complete -c pywarmctl -n __fish_use_subcommand -a sandbox -d 'Print the sandbox a run here gets'
complete -c pywarmctl -n __fish_use_subcommand -a help -d 'Show the usage'
complete -c pywarmctl -n '__fish_seen_subcommand_from start' -l wait -d 'Wait until it serves'
complete -c pywarmctl -n '__fish_seen_subcommand_from start' -l timeout -x -d 'Seconds to wait'
complete -c pywarmctl -n '__fish_seen_subcommand_from start' -l quiet -d 'Print nothing on success'
complete -c pywarmctl -n '__fish_seen_subcommand_from stop' -l all -d 'Stop every zygote'
complete -c pywarmctl -n '__fish_seen_subcommand_from learn' -l write -d 'Add them to the profile'
complete -c pywarmctl -n '__fish_seen_subcommand_from learn' -l min-runs -x -d 'Runs that imported a module'
complete -c pywarmctl -n '__fish_seen_subcommand_from shell-init' -a 'bash zsh fish' -d Shell
complete -c pywarmctl -n '__fish_seen_subcommand_from shell-init' -l no-prewarm -d 'No directory-change hook'
complete -c pywarmctl -n '__fish_seen_subcommand_from shell-init' -a sh -d 'Shell (with --path)'
complete -c pywarmctl -n '__fish_seen_subcommand_from shell-init' -l path -d 'Only the PATH line of the python links'
complete -c pywarmctl -n '__fish_seen_subcommand_from check trust untrust' -F
complete -c pywarmctl -n '__fish_seen_subcommand_from sandbox' -a 'default no-network no-exec no-fork' -d Policy
complete -c pywarmctl -n 'not __fish_use_subcommand' -l help -d 'Show the usage'
