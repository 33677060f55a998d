# Print what zsh's completion system offers for a command line, one match per line:
#   zsh -f zsh_capture.zsh FPATH_DIR 'mplat pl'
# An interactive zsh runs in a pseudo-terminal (zpty) with compinit and FPATH_DIR on $fpath;
# Tab is sent after the line, and a compadd wrapper prints each match between two NUL lines
# that the completion widget's pre/post hooks write. After Valodim's zsh-capture-completion
# (MIT), cut down to what the tests need.
zmodload zsh/zpty || exit 3
fpath_dir=$1
line=$2
zpty z zsh -f -i
() {
    zpty -w z source $1
    repeat 4; do
        zpty -r z reply
        [[ $reply == ok* ]] && return
    done
    print -u2 'zsh_capture: the inner zsh did not start'
    exit 2
} =( <<< "
PROMPT=
fpath=(${(q)fpath_dir} \$fpath)
autoload -Uz compinit
compinit -u -d ${(q)fpath_dir}/.zcompdump
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
null-line () { echo -E - \$'\\0' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd () {
    if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
        builtin compadd \"\$@\"
        return \$?
    fi
    typeset -a __hits
    builtin compadd -A __hits \"\$@\"
    (( \$#__hits )) && print -rl -- \$__hits
}
echo ok")
zpty -w z "$line"$'\t'
integer nuls=0
while zpty -r z; do :; done | while IFS= read -r out; do
    if [[ $out == *$'\0\r' ]]; then
        (( nuls++ )) && exit 0 || continue
    fi
    (( nuls )) && print -r -- ${out%$'\r'}
done
exit 2
