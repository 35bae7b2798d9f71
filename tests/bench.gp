# bench.gp: the chart `make bench` writes: medians of pywarm and python3 side by side, and the ratios against their targets (gnuplot, pngcairo).
# usage: gnuplot -e "dir='DATADIR'; out='FILE.png'; sub='subtitle'" bench.gp   (run by bench.sh)

set terminal pngcairo size 1200,560 font "DejaVu Sans,11" noenhanced
set output out
med = dir."/medians.dat"
rat = dir."/ratios.dat"
stats dir."/true.dat" using 1 nooutput
true_ms = STATS_min

set multiplot layout 1,2 title "pywarm: make bench\n".sub font ",13"
set style fill solid 0.85 border -1
set grid ytics
set border 3
set tics nomirror
set key top left opaque

# Left: medians, log scale, the pair of each program side by side.
set title "Median time of one run"
set logscale y
set ylabel "milliseconds (log scale)"
set xrange [-0.8:*]
set yrange [0.2:*]
set format y "%g"
plot med using ($0*3):2:(0.9) with boxes lc rgb "#2b7bba" title "pywarm (warm)", \
     ''  using ($0*3+1):3:(0.9) with boxes lc rgb "#d95f02" title "python3", \
     ''  using ($0*3):2:(sprintf("%.1f", $2)) with labels offset 0,0.8 notitle, \
     ''  using ($0*3+1):3:(sprintf("%.0f", $3)) with labels offset 0,0.8 notitle, \
     ''  using ($0*3+0.5):(NaN):xticlabels(1) notitle, \
     true_ms with lines dt 2 lc rgb "#555555" title sprintf("/bin/true (%.2f ms)", true_ms)

# Right: each ratio and its target (a bar per figure; green met, red missed).
set title "Ratios and their targets"
set ylabel "ratio (log scale)"
stats rat using 2 nooutput prefix "V"
stats rat using 3 nooutput prefix "G"
set yrange [0.8:3 * (V_max > G_max ? V_max : G_max)]
set xrange [-0.6:*]
set xtics rotate by -25 left
color(m) = m == 1 ? 0x1b9e77 : (m == 0 ? 0xd62728 : 0x888888)
plot rat using ($0):2:(0.7):(color($4)) with boxes lc rgb variable notitle, \
     ''  using ($0):(1.15):(sprintf($2 < 20 ? "%.1f×" : "%.0f×", $2)) with labels tc rgb "#ffffff" notitle, \
     ''  using ($0):3:(0.45) with xerrorbars pt -1 lw 4 lc rgb "#000000" title "target", \
     ''  using ($0):(NaN):xticlabels(1) notitle
unset multiplot
